"""Small helpers the sales notebook imports (envkit follows local modules like this one)."""

import numpy as np
import pandas as pd


def moving_average(series: pd.Series, window: int = 7) -> pd.Series:
    """Trailing mean over ``window`` days."""
    return series.rolling(window, min_periods=1).mean()


def linear_trend(series: pd.Series) -> tuple[float, float]:
    """Slope and intercept of a least-squares line through the series."""
    x = np.arange(len(series))
    slope, intercept = np.polyfit(x, series.to_numpy(), 1)
    return float(slope), float(intercept)
