"""pytest glue (filled in by the plugin core)."""
