"""The data layer: engines, datasets (discovery, reading), contract validation, pushed-down loads.

Imports go one way: ``engine`` <- ``dataset`` <- ``validate`` <- ``load`` (``open_dataset``
composes a dataset with validation's loader checks) <- ``cli``, ``summary``.

>>> from govlib.data import open_dataset, load_market_window, validate_dataset  # doctest: +SKIP
"""

from govlib.data.dataset import Dataset, DatasetError
from govlib.data.load import load_market_window, open_dataset, window_bounds
from govlib.data.validate import ContractError, Problem, check_dataset, validate_dataset

__all__ = [
    "ContractError",
    "Dataset",
    "DatasetError",
    "Problem",
    "check_dataset",
    "load_market_window",
    "open_dataset",
    "validate_dataset",
    "window_bounds",
]
