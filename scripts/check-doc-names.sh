#!/usr/bin/env bash
# check-doc-names.sh FILE.md… — every backticked name in the documents
# must exist in the repository: a path (with / or a file suffix) as a file
# or directory; a Go identifier (Name, Type.Name, pkg.Name, a.field) as a
# definition — func, method, type, field, const or var — of its last part;
# anything else (flags, states, metric names, wire names) as a literal
# somewhere in the sources. Prints each name that is not found; exits 1
# if there is one. Run it after a rename (docs/architecture.md).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- docs/architecture.md
gofiles=$(git ls-files '*.go')
allfiles=$(git ls-files)
srcfiles=$(git ls-files '*.go' '*.md' '*.idl' '*.sh' 'Makefile' '*.tcl' '*.cc' '*.h')
missing=0
for doc in "$@"; do
	# Backticked spans outside fenced code blocks.
	names=$(awk '/^```/{f=!f; next} !f' "$doc" | grep -o '`[^`]*`' | tr -d '`' | sort -u)
	while IFS= read -r n; do
		[ -n "$n" ] || continue
		ok=
		case "$n" in
		*' '* | *'('*)
			# a call or a phrase: its literal text in the sources
			grep -qF -- "$n" $srcfiles && ok=1 ;;
		*/* | *.go | *.md | *.sh | *.idl)
			p=${n%/}
			if [ -e "$p" ] || { [[ "$p" != */* ]] && grep -q "/$p\$" <<<"$allfiles"; }; then ok=1
			else grep -qF -- "$n" $srcfiles && ok=1
			fi ;;
		*)
			if [[ "$n" =~ ^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$ ]]; then
				last=${n##*.}
				# func last(, func (r T) last(, type last, a field or a const/var
				# (an iota constant alone on its line, too).
				if grep -qE "^func (\([^)]*\) )?$last(\[[^]]*\])?\(|^type $last\b|^[[:space:]]+$last( +[A-Za-z*[]|,)|^(const|var) $last\b|^[[:space:]]+$last[[:space:]]*=|^	$last +[A-Za-z*\[]|^	$last( *//.*)?\$" $gofiles; then
					ok=1
				fi
				if [ -z "$ok" ] && [[ "$n" != *.* ]]; then
					# not an identifier of ours after all (a state name, a
					# metric, a wire name): the literal must appear
					grep -qF -- "$n" $srcfiles && ok=1
				fi
			else
				grep -qF -- "$n" $srcfiles && ok=1
			fi ;;
		esac
		if [ -z "$ok" ]; then
			echo "$doc: \`$n\` not found"
			missing=1
		fi
	done <<<"$names"
done
exit $missing
