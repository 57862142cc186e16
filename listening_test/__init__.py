"""MUSHRA listening tests (ITU-R BS.1534-3): build, serve, store, screen, analyse."""
