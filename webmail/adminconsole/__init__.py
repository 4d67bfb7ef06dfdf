"""The admin console's REST API (/api/v1/admin/): domains, accounts, aliases, relay rules, the
queue, the delivery log, a dashboard and the audit log. Views only; logic is in mailcore."""
