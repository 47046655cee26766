"""The demo data's defaults, apart from the generator so `saas-tracker --help` can show
them without loading numpy and pandas."""

DEFAULT_ORGS = 300
DEFAULT_DAYS = 240
DEFAULT_SEED = 7
DEFAULT_OUT = "demo-data"
