"""The operations console: server-rendered pages under /console for a tenant's administrators
(sign-in: `session`; pages and actions: `pages`; the last hour's charts: `history`, `charts`)."""
