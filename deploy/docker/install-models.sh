#!/bin/sh
# The one-shot `models` job of docker-compose.yml: fill the shared models volume with Argos packages.
#
#   MODELS_SOURCE=index  (default) install the en<->LANG packages for MODELS_LANGUAGES (default "ar tr")
#                        from the Argos package index; needs the network, and does nothing when every
#                        pair is already in the volume, so `docker compose up` never downloads twice.
#   MODELS_SOURCE=path   offline: install every .argosmodel file under MODELS_IMPORT_DIR (default /import,
#                        a folder the deploy/compose.models-offline.yml override mounts read-only).
#   MODELS_SOURCE=skip   install nothing: stories are served in their original language and their
#                        renditions are marked `unavailable` until packages arrive (translate re-reads
#                        the volume every WIREWATCH_TRANSLATE_RESCAN_SECONDS and catches up).
set -eu

languages="${MODELS_LANGUAGES:-ar tr}"

case "${MODELS_SOURCE:-index}" in
skip)
    echo "models: skipped (MODELS_SOURCE=skip); renditions stay 'unavailable' until packages are installed"
    ;;
path)
    dir="${MODELS_IMPORT_DIR:-/import}"
    if ! ls "$dir"/*.argosmodel >/dev/null 2>&1; then
        echo "error: MODELS_SOURCE=path but there is no .argosmodel file in $dir" >&2
        exit 2
    fi
    exec wirewatch-translate install --from-path "$dir"
    ;;
index)
    installed="$(wirewatch-translate list)"
    missing=""
    for lang in $languages; do
        for pair in "en→$lang" "$lang→en"; do
            # A pair counts as installed only with a real package active (a test package is no translation).
            if ! printf '%s\n' "$installed" | grep -Eq "^$pair	active +[^ ]+ +[^ ]+ +real "; then
                missing="$missing $pair"
            fi
        done
    done
    if [ -z "$missing" ]; then
        echo "models: every package for $languages is installed already"
        exit 0
    fi
    echo "models: installing from the Argos index (missing:$missing)"
    # shellcheck disable=SC2086 # one argument per language code
    exec wirewatch-translate install $languages
    ;;
*)
    echo "error: MODELS_SOURCE is '${MODELS_SOURCE}'; use index, path or skip" >&2
    exit 2
    ;;
esac
