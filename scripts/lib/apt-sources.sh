# scripts/lib/apt-sources.sh: reads the host's apt configuration (one-line sources.list files and
# deb822 *.sources files) so scripts/setup can tell whether bookworm-backports is enabled and, when it
# is not, add it on the same archive the bookworm entry already uses. Sourced, never run. Writing
# files and running apt-get is left to the caller.

# apt_entries ETC: one line per enabled source, "TYPE URI SUITE SIGNED-BY" (SIGNED-BY is "-" when
# absent or given inline as a key block, which we cannot reuse).
apt_entries() {
  local etc=$1 f
  for f in "$etc/sources.list" "$etc"/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '{
      sub(/#.*/, "");
      if ($1 != "deb" && $1 != "deb-src") next;
      i = 2; signed = "-";
      if ($2 ~ /^\[/) {   # [opt=value ...] options block
        for (; i <= NF; i++) {
          o = $i; gsub(/[\[\]]/, "", o);
          if (o ~ /^signed-by=/) { sub(/^signed-by=/, "", o); signed = o }
          if ($i ~ /\]$/) { i++; break }
        }
      }
      if ($(i) != "" && $(i + 1) != "") print $1, $(i), $(i + 1), signed;
    }' "$f"
  done
  for f in "$etc"/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # deb822: stanzas separated by blank lines; comment and continuation lines are skipped.
    awk 'BEGIN { RS = ""; FS = "\n" }
    {
      types = ""; uris = ""; suites = ""; signed = "-"; enabled = "yes";
      for (l = 1; l <= NF; l++) {
        line = $l;
        if (line ~ /^[ \t]*#/ || line ~ /^[ \t]/) continue;
        k = line; sub(/:.*/, "", k); k = tolower(k);
        v = line; sub(/^[^:]*:[ \t]*/, "", v); sub(/[ \t]+$/, "", v);
        if (k == "types") types = v; else if (k == "uris") uris = v;
        else if (k == "suites") suites = v; else if (k == "enabled") enabled = tolower(v);
        else if (k == "signed-by" && v ~ /^\//) signed = v;
      }
      if (enabled == "no") next;
      nt = split(types, T, /[ \t]+/); nu = split(uris, U, /[ \t]+/); ns = split(suites, S, /[ \t]+/);
      for (a = 1; a <= nt; a++) for (b = 1; b <= nu; b++) for (c = 1; c <= ns; c++)
        print T[a], U[b], S[c], signed;
    }' "$f"
  done
}

# has_suite ETC SUITE: true when a binary ("deb") source for SUITE is enabled.
has_suite() { apt_entries "$1" | awk -v s="$2" '$1 == "deb" && $3 == s { found = 1 } END { exit !found }'; }

# suite_source ETC SUITE: "URI SIGNED-BY" of the first binary source for SUITE; fails when none.
suite_source() {
  apt_entries "$1" | awk -v s="$2" '$1 == "deb" && $3 == s { print $2, $4; found = 1; exit } END { exit !found }'
}

# backports_stanza URI SIGNED-BY: the deb822 stanza that enables bookworm-backports on URI.
backports_stanza() {
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\n' "$1"
  if [ "$2" != "-" ]; then printf 'Signed-By: %s\n' "$2"; fi
}
