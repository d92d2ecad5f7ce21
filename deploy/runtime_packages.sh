#!/usr/bin/env bash
# Prints the Debian packages that hold the shared libraries BINARY... load (from ldd), one per
# line, sorted: what a runtime image must install to run them (deploy/Dockerfile does).
#
#   deploy/runtime_packages.sh bazel-bin/server/drivelm_server bazel-bin/clients/drivelm_client
#
# Fails, naming it, when a library is not found or belongs to no package (a library built or
# copied by hand would have to be copied into the image instead).
set -euo pipefail

if (($# == 0)); then
  echo "usage: $0 BINARY..." >&2
  exit 1
fi

# Every library the binaries load, as ldd resolved it.
libs=()
for binary in "$@"; do
  if [[ ! -x "$binary" ]]; then
    echo "runtime_packages: $binary is not an executable file" >&2
    exit 1
  fi
  ldd_out="$(ldd "$binary")" || { echo "runtime_packages: ldd failed on $binary" >&2; exit 1; }
  if grep -q "not found" <<<"$ldd_out"; then
    echo "runtime_packages: $binary: libraries not found:" >&2
    grep "not found" <<<"$ldd_out" >&2
    exit 1
  fi
  # Lines "libx.so.1 => /path (0x...)" and the loader "/lib64/ld-linux-x86-64.so.2 (0x...)".
  while read -r lib; do libs+=("$lib"); done \
    < <(awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' <<<"$ldd_out")
done

# dpkg knows a file by the path its package installed, which may differ from ldd's: try the path,
# its canonical form (symlinks such as Debian's alternatives for libopenblas resolved) and both
# sides of the /usr merge. One dpkg-query call for all (each call reads dpkg's whole database).
candidates() {
  local path="$1" real
  real="$(readlink -f "$path")"
  printf '%s\n' "$path" "$real" "${path#/usr}" "${real#/usr}" "/usr${path#/usr}" "/usr${real#/usr}"
}
mapfile -t all < <(for lib in "${libs[@]}"; do candidates "$lib"; done | sort -u)
declare -A owner=()
# "libfoo1:amd64: /usr/lib/..." or "pkg1, pkg2: /path" (the first owner); not "diversion ...".
while IFS= read -r line; do
  [[ "$line" == diversion* ]] && continue
  path="${line##*: }"
  pkg="${line%%: *}"
  pkg="${pkg%%,*}"
  owner["$path"]="${pkg%%:*}"
done < <(dpkg-query -S "${all[@]}" 2>/dev/null)

status=0
declare -A packages=()
for lib in "${libs[@]}"; do
  found=""
  while read -r candidate; do
    if [[ -n "${owner[$candidate]:-}" ]]; then found="${owner[$candidate]}"; break; fi
  done < <(candidates "$lib")
  if [[ -n "$found" ]]; then
    packages["$found"]=1
  else
    echo "runtime_packages: no Debian package holds $lib" >&2
    status=1
  fi
done
((status == 0)) || exit "$status"
printf '%s\n' "${!packages[@]}" | sort
