"""The data layer: engines, dataset discovery, pushed-down loads and contract validation.

>>> from govlib.data import open_dataset, load_market_window, validate_dataset  # doctest: +SKIP
"""

from govlib.data.load import Dataset, DatasetError, load_market_window, open_dataset, window_bounds
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
