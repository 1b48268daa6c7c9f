"""The web edge: JSON API under /api/v1, server-rendered pages, authentication, roles and i18n."""
