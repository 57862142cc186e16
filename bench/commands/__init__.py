"""CLI subcommands: one module each, with `register(subparsers)`; heavy imports stay inside handlers."""
