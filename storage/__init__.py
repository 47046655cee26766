"""Storage: SQLAlchemy models, sessions, migrations and CSV import.

pandas keeps text columns as Python strings, as it did before pyarrow was a dependency:
pyarrow is installed for the import's Arrow batches (``storage.staging``,
``storage.event_import``), and with it pandas 3 would back every text column with Arrow,
changing the frames of every scan and Slack answer as a side effect. ``storage`` and
``scoring``, the packages that build frames, set it when imported, so a command that needs
neither (``--help``) still doesn't load pandas.
"""

import pandas as pd

pd.set_option("mode.string_storage", "python")
