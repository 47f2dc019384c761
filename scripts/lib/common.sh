# scripts/lib/common.sh: small helpers shared by the shell scripts in scripts/ and .ci/ (logging to
# stderr, version comparison). Sourced, never run; callers set their own shell options.

# Progress and errors go to stderr: some scripts (install-pulumi) keep stdout for their result.
say() { printf '%s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# version_ge A B: true when dotted version A >= B (e.g. version_ge 10.0.2 10.0.0).
version_ge() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" = "$2" ]; }

# first_version TEXT: the first dotted number (1.2 or 1.2.3) in TEXT, or nothing.
first_version() { printf '%s\n' "$1" | grep -oE '[0-9]+\.[0-9]+(\.[0-9]+)?' | head -n1 || true; }
