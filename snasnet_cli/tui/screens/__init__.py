"""Screens over the dashboard: help, the job form, the question before quitting with jobs running."""
