"""Reference p-values for bigyo's paired randomization test (src/compare.rs), from scipy.

Reads JSON from stdin: {"cases": [{"a": [...], "b": [...], "n_resamples": N}, ...]} and prints
{"p": [...]}: scipy.stats.permutation_test on the paired samples (permutation_type='samples',
i.e. the two values of a question swap places, which flips the sign of its difference),
statistic = mean difference, two-sided. scipy enumerates every pattern when 2^n <= n_resamples.
"""
import json
import sys

import numpy as np
from scipy import stats


def mean_diff(x, y, axis):
    return np.mean(x - y, axis=axis)


def main():
    cases = json.load(sys.stdin)["cases"]
    out = []
    for c in cases:
        res = stats.permutation_test(
            (np.asarray(c["a"], dtype=float), np.asarray(c["b"], dtype=float)),
            mean_diff,
            permutation_type="samples",
            vectorized=True,
            n_resamples=c["n_resamples"],
            alternative="two-sided",
            rng=np.random.default_rng(0),
        )
        out.append(float(res.pvalue))
    json.dump({"p": out}, sys.stdout)


if __name__ == "__main__":
    main()
