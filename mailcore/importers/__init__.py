"""Importers from a classic sendmail/Postfix + Dovecot host: /etc/aliases, access maps,
mynetworks, local-host-names, virtual alias maps, Maildir trees and mbox files.

The format modules (aliases, access, hosts, virtual, mbox, maildir_tree, textmap, report) are
pure parsers: text or bytes in, records out, no Django. `apply` turns records into calls of
the directory and store actions; the `import_*` management commands wire both together.
"""
