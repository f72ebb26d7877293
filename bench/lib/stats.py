"""Order statistics for the benchmark report: median and the p10-p90 spread (linear
interpolation between closest ranks, so small samples still give a sensible band), and the
pair-by-pair ratio of two alternating series."""


def percentile(xs, p):
    s = sorted(xs)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary(xs):
    """(median, p10, p90) of a list of numbers."""
    return percentile(xs, 50), percentile(xs, 10), percentile(xs, 90)


def pair_ratios(ref, weft):
    """ref[i] / weft[i] for each alternating pair i; a zero denominator is skipped."""
    return [r / w for r, w in zip(ref, weft) if w > 0]
