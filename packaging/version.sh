#!/bin/sh
# Prints the package version for the current checkout, derived from
# `git describe --tags --dirty` and valid for both dpkg and rpm (neither
# allows '-' in an upstream version without a revision):
#   v1.2.3                    -> 1.2.3
#   v1.2.3-4-gabc1234         -> 1.2.3+git4.gabc1234
#   no tag yet                -> 0.0.0~git<commits>.gabc1234
#   any of these, dirty tree  -> ... .dirty
# '~' sorts before everything, so untagged builds are older than any
# release; the commit count keeps successive untagged builds in order.
set -eu

if desc=$(git describe --tags --dirty 2>/dev/null); then
	dirty=
	case "$desc" in
	*-dirty)
		dirty=.dirty
		desc=${desc%-dirty}
		;;
	esac
	desc=${desc#v}
	# tag-N-gSHA: N commits after the tag.
	if printf '%s\n' "$desc" | grep -Eq -- '-[0-9]+-g[0-9a-f]+$'; then
		sha=${desc##*-}
		rest=${desc%-*}
		version="${rest%-*}+git${rest##*-}.$sha"
	else
		version=$desc
	fi
	version=$version$dirty
elif sha=$(git describe --always --dirty 2>/dev/null); then
	n=$(git rev-list --count HEAD)
	version="0.0.0~git$n.g$(printf '%s' "$sha" | sed 's/-dirty$/.dirty/')"
else
	version=0.0.0~dev
fi

# Whatever a tag holds, keep only characters both formats accept.
printf '%s\n' "$version" | tr -- '-_' '..' | tr -cd '0-9A-Za-z.+~\n'
