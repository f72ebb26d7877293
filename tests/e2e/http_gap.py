"""Polls URL for DURATION seconds (10 ms apart, 0.5 s timeout per request) and prints the longest
gap between two answers (seconds, 3 decimals) and the number of answers: what the weftd restart
checks of the e2e tests compare against their 1 s bound. Usage: http_gap.py URL DURATION"""
import sys
import time
import urllib.request

url, dur = sys.argv[1], float(sys.argv[2])
end = time.monotonic() + dur
last = time.monotonic()
gap = 0.0
ok = 0
while time.monotonic() < end:
    try:
        urllib.request.urlopen(url, timeout=0.5).read()
        now = time.monotonic()
        gap = max(gap, now - last)
        last = now
        ok += 1
    except Exception:
        pass
    time.sleep(0.01)
gap = max(gap, time.monotonic() - last)
print(f"{gap:.3f} {ok}")
