"""Listeners' ratings from any source as one long table (listener, item, condition, rating, file).

Readers: `stahl` (the public Neural Codec MUSHRA dataset of Stahl et al. 2024), `webmushra` (webMUSHRA's
`mushra.csv`), `exports` (codecbench's own `ratings.csv` and `mushra analyze` output), `odaq` (ODAQ's listener
XML results); `read_source` picks one from the path. `nisqa` reads the NISQA Corpus's per-file MOS and pairs
(ACR means, not a MUSHRA table). `codecbench.datasets.rated_corpora` downloads ODAQ and NISQA with checksums.
"""

from codecbench.ratings.sources import KINDS, read_source
from codecbench.ratings.table import RATING_COLUMNS, Ratings

__all__ = ["KINDS", "RATING_COLUMNS", "Ratings", "read_source"]
