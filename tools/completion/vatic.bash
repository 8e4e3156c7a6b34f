# bash completion for vatic(1). Installed as
# share/bash-completion/completions/vatic; or source it from ~/.bashrc.
#
# Completes verbs, each verb's flags, files where an argument is a local path
# or a file holding a sturdy ref, directories for DIR and --store, the
# `inspect` views, `attenuate --ops` lists, and the directory methods `call`
# knows. Paths inside a served directory (PATH) are remote: not completed.
# tests/tools/cli_docs_test.cpp checks that every verb and flag the binary
# knows is offered here.

_vatic_files() {  # _vatic_files [-d]
  if declare -F _filedir >/dev/null; then
    _filedir "$@"
  else
    local kind=-f
    [[ $1 == -d ]] && kind=-d
    mapfile -t COMPREPLY < <(compgen "$kind" -- "$cur")
    compopt -o filenames 2>/dev/null
  fi
}

_vatic_words() {  # _vatic_words WORD...: the words that start with $cur
  mapfile -t COMPREPLY < <(compgen -W "$*" -- "$cur")
}

_vatic() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
  local verbs="id serve attenuate revoke inspect call ls cat get put rm mkdir"
  local common="--store --json --help --help-all"
  # Flags that take a value: the word after one is not a positional argument.
  local valued="--store --listen --advertise --log-level --path --ops --expires --not-before --for --methods --max-bytes"
  valued+=" --clock-skew --idle-timeout --max-connections"
  local net="--idle-timeout"
  COMPREPLY=()

  # The verb, and how many positional arguments precede the cursor.
  local verb="" npos=0 i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=${COMP_WORDS[i]}
    if [[ -z $verb ]]; then
      [[ $w != -* ]] && verb=$w
      continue
    fi
    if [[ " $valued " == *" $w "* ]]; then
      ((i++))
    elif [[ $w != -* ]]; then
      ((npos++))
    fi
  done

  if [[ -z $verb ]]; then
    if [[ $cur == -* ]]; then _vatic_words --help --help-all --version; else _vatic_words $verbs; fi
    return
  fi

  case $prev in
    --store) _vatic_files -d; return ;;
    --ops)  # a comma-separated list: complete its last element
      local done=${cur%,*} ops="read list write create delete" o
      [[ $cur == *,* ]] || done=""
      mapfile -t COMPREPLY < <(for o in $ops; do [[ -n $done ]] && echo "$done,$o" || echo "$o"; done |
        grep -- "^${cur//./\\.}" || true)
      compopt -o nospace 2>/dev/null
      return ;;
    --log-level) _vatic_words trace debug info warn error off; return ;;
    --listen | --advertise | --clock-skew | --path | --expires | --not-before | --for | --methods | --max-bytes) return ;;
    --idle-timeout | --max-connections) return ;;
  esac

  local flags
  case $verb in
    id) flags="--init $common" ;;
    serve) flags="--listen --advertise --read-only --log-level --log-json --clock-skew --init --max-connections $net $common" ;;
    attenuate) flags="--path --ops --expires --not-before --for --methods --max-bytes --json --help --help-all" ;;
    revoke | inspect | call | ls | cat | rm | mkdir) flags="$net $common" ;;
    get) flags="-f --force -q --quiet $net $common" ;;
    put) flags="-q --quiet $net $common" ;;
    *) return ;;
  esac
  if [[ $cur == -* ]]; then
    _vatic_words $flags
    return
  fi

  # Positional arguments, by verb and position.
  case $verb:$npos in
    serve:0) _vatic_files -d ;;                    # DIR
    attenuate:0 | revoke:[01] | inspect:0) _vatic_files ;;  # TOKEN, ADMIN-REF: a ref or its file
    inspect:1) _vatic_words stats objects tree crashes recorder sessions persist ;;
    call:0) _vatic_files ;;                        # REF
    call:1) _vatic_words list stat read open create mkdir remove rename sub read_only restrict ops ;;
    ls:0 | cat:0 | get:0 | put:0 | rm:0 | mkdir:0) _vatic_files ;;  # TOKEN
    get:2 | put:2) _vatic_files ;;                 # OUT, IN: local files
  esac
}

complete -F _vatic vatic
