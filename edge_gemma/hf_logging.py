"""Keep transformers' own chatter out of our progress output."""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def quiet_transformers():
    """Hide transformers' warnings while it loads and traces for us.

    transformers 5.0.0 warns "`torch_dtype` is deprecated" (optimum-intel 2.2.0 passes that
    key itself) and "`loss_type=None` was set in the config" (tracing touches the loss) on
    every export; neither is the user's to act on. Its errors still show.
    """
    from transformers.utils import logging

    level, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    # transformers 5.0 draws a "Loading weights" bar with one line per tensor in a log file.
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(level)
        if bars:
            logging.enable_progress_bar()
