# run with %run by the fixture notebook
import scipy.stats
from helpers_local import fetch  # noqa: F401
