"""Scoring: pure, vectorized; frames in, results out.

Text columns stay Python strings in pandas, as ``storage`` explains.
"""

import pandas as pd

pd.set_option("mode.string_storage", "python")
