"""Examples built on skelcl (not part of the installed package)."""
