# Check counting for the shell tests (sourced by tests/{netns,compat,e2e}/*.sh): ok and bad count
# a passed and a failed check (bad says FAIL and why), expect_eq/expect_has/expect_lacks compare
# and say what differed; the script prints $checks and $fails at its end and fails when $fails > 0.
fails=0 checks=0
ok() { checks=$((checks + 1)); }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*"; }
expect_eq() { if [ "$1" == "$2" ]; then ok; else bad "$3: got [$1] want [$2]"; fi; }
expect_has() { if [[ "$1" == *"$2"* ]]; then ok; else bad "$3: [$1] lacks [$2]"; fi; }
expect_lacks() { if [[ "$1" != *"$2"* ]]; then ok; else bad "$3: [$1] has [$2]"; fi; }
