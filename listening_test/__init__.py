"""MUSHRA listening tests (ITU-R BS.1534-3): build, serve, store, screen, analyse.

`build_test` writes a test folder, `create_app`/`serve` run the listener app and admin page,
`MushraStore` is the results database as the server writes it, `ResultsDB` reads it read-only,
`analyze` screens listeners and summarises the ratings.
Imports are lazy: only `serve` needs Gradio.
"""

from importlib import import_module

_PUBLIC = {"build_test": "build", "load_test": "testdef", "MushraStore": "store", "ResultsDB": "results",
           "export_ratings": "results", "analyze": "analysis", "screen_listeners": "analysis", "create_app": "app",
           "serve": "app"}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(import_module(f"codecbench.listening_test.{_PUBLIC[name]}"), name)
    raise AttributeError(name)
