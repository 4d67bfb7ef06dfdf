#!/bin/sh
# certbot --deploy-hook for Mailroom (issue 15 item 2): copy each renewed certificate to
# /var/lib/mailroom/tls/<name>/ owned by mailroom, mode 0600 (certbot's own files are root's,
# and the listeners run as mailroom). The listeners notice the new files at the next
# handshake: no restart. Install: /etc/letsencrypt/renewal-hooks/deploy/mailroom (mode 0755).
set -eu
: "${RENEWED_LINEAGE:?run by certbot as a deploy hook}"
name=$(basename "$RENEWED_LINEAGE")
dest=/var/lib/mailroom/tls/$name
install -d -o mailroom -g mailroom -m 0700 /var/lib/mailroom/tls "$dest"
# New files renamed into place: a listener never reads a half-written pair.
for f in fullchain.pem privkey.pem; do
    install -o mailroom -g mailroom -m 0600 "$RENEWED_LINEAGE/$f" "$dest/.$f.new"
done
mv -f "$dest/.privkey.pem.new" "$dest/privkey.pem"
mv -f "$dest/.fullchain.pem.new" "$dest/fullchain.pem"
# nginx reads its certificate only at reload.
systemctl reload nginx 2>/dev/null || true
