"""The brand and operator console: server-rendered pages under ``/console/``
(docs/CONSOLE.md). `routes` holds the router; `session` the staff's cookie and the
forms' CSRF tokens; `i18n` the words in English and Simplified Chinese; `environment`
the Jinja environment over ``templates/``.
"""
