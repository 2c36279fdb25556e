"""nbval runs the notebooks in classroom size unless the caller asks otherwise."""

import os

os.environ.setdefault("PINSAGE_EDU_SIZE", "classroom")
os.environ.setdefault("PYTHONHASHSEED", "0")
