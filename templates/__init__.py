"""Jinja2 message text (``*.md.j2``), shipped inside the package so an installed
``saas-tracker`` renders messages without the source tree."""
