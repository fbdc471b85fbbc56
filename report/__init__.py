"""Presenting half of the study: figures, templates, HTML, PDF and checks (never imports torch)."""
