#!/usr/bin/env bash
# Makes real encoder output for the audio tests and a sample music library
# for the demo and the seeder tests, with Debian's ffmpeg, lame, flac, oggenc,
# espeak-ng and sox. Deterministic (fixed seeds, -bitexact, no encoder dates)
# and idempotent: a file that is already there is kept.
#
#   scripts/make-fixtures.sh OUTDIR
#       short tagged fixtures: sine sweeps, noise, speech; mono and stereo;
#       44.1 and 48 kHz; mp3 CBR 320k/128k and VBR (lame -V2, Xing/LAME
#       header), flac, ogg/vorbis, wav.
#   scripts/make-fixtures.sh --library N [--seconds S] [--bitrate KBPS] OUTDIR
#       N tagged music-like tracks (synthesized chords and arpeggios), several
#       artists and albums, a mix of mp3, flac and ogg, each with a distinct
#       title/artist/album; in OUTDIR/<artist>/<album>/NN - <title>.<ext>.
#       The mp3s are lame -V 4 (VBR) unless --bitrate KBPS asks for CBR at
#       KBPS kbit/s (lame -b KBPS --cbr; 32 to 320, an MPEG-1 layer III
#       rate); those are named NN - <title> [KBPSk].mp3, so a file of another
#       bitrate (or a VBR one) in OUTDIR is never mistaken for it.
set -euo pipefail

library=0
seconds=20
bitrate=""
while (($#)); do
	case "$1" in
	--library) library=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	--bitrate) bitrate=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	--*) echo "make-fixtures: unknown flag $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
(($# == 1)) || { echo "usage: make-fixtures.sh [--library N [--seconds S] [--bitrate KBPS]] OUTDIR" >&2; exit 2; }
if [[ -n $bitrate ]]; then
	((library > 0)) || { echo "make-fixtures: --bitrate goes with --library" >&2; exit 2; }
	case " 32 40 48 56 64 80 96 112 128 160 192 224 256 320 " in
	*" $bitrate "*) ;;
	*) echo "make-fixtures: --bitrate $bitrate: want an MPEG-1 layer III rate in kbit/s (32 40 48 56 64 80 96 112 128 160 192 224 256 320)" >&2; exit 2 ;;
	esac
fi
out=$1
mkdir -p "$out"
for p in ffmpeg lame flac oggenc espeak-ng sox; do
	command -v "$p" >/dev/null || { echo "make-fixtures: $p is not installed (scripts/test.sh installs it)" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ff=(ffmpeg -nostdin -hide_banner -loglevel error -y)

# encode SRC.wav DEST TITLE ARTIST ALBUM [ENCODER-ARGS...]: writes DEST
# (atomically, via a temp file) from a 16-bit PCM wav, tagged.
encode() {
	local src=$1 dest=$2 title=$3 artist=$4 album=$5
	shift 5
	[[ -s "$dest" ]] && return 0
	local part="$tmp/part.${dest##*.}"
	rm -f "$part"
	case "$dest" in
	*.mp3)
		# --noreplaygain and a fixed tag set keep the output byte-identical.
		lame --quiet --noreplaygain --id3v2-only --tt "$title" --ta "$artist" --tl "$album" "$@" "$src" "$part" ;;
	*.flac)
		flac --silent -S 1s -T "TITLE=$title" -T "ARTIST=$artist" -T "ALBUM=$album" "$@" -o "$part" "$src" ;;
	*.ogg)
		# oggenc takes a fixed serial number so the stream is reproducible.
		oggenc --quiet --serial 12345 -t "$title" -a "$artist" -l "$album" "$@" -o "$part" "$src" ;;
	*.wav)
		cp "$src" "$part" ;;
	*) echo "make-fixtures: unknown type $dest" >&2; return 1 ;;
	esac
	mv "$part" "$dest"
}

# pcm NAME RATE CHANNELS SECONDS LAVFI-SOURCE: a 16-bit wav from ffmpeg's
# synthetic sources (deterministic; noise sources take a fixed seed).
pcm() {
	local name=$1 rate=$2 ch=$3 secs=$4 src=$5
	local layout=mono
	((ch == 2)) && layout=stereo
	"${ff[@]}" -f lavfi -i "$src" -t "$secs" -ar "$rate" -ac "$ch" -channel_layout "$layout" \
		-c:a pcm_s16le -bitexact -fflags +bitexact -flags:a +bitexact -map_metadata -1 "$tmp/$name.wav"
}

make_fixtures() {
	# Sources: a stereo sweep (different per channel), mono noise, speech.
	pcm sweep44s 44100 2 4 "aevalsrc=0.5*sin(2*PI*(100+2000*t)*t)|0.5*sin(2*PI*(300+1500*t)*t):s=44100:d=4"
	pcm sweep48m 48000 1 3 "aevalsrc=0.5*sin(2*PI*(200+3000*t)*t):s=48000:d=3"
	pcm noise44m 44100 1 3 "anoisesrc=color=pink:amplitude=0.3:seed=42:r=44100:d=3"
	pcm noise48s 48000 2 3 "anoisesrc=color=white:amplitude=0.2:seed=7:r=48000:d=3"
	espeak-ng -v en -s 150 -w "$tmp/speech-raw.wav" \
		"Peer tune test fixture. The quick brown fox jumps over the lazy dog, one two three four five."
	"${ff[@]}" -i "$tmp/speech-raw.wav" -ar 44100 -ac 1 -c:a pcm_s16le -bitexact -fflags +bitexact \
		-map_metadata -1 "$tmp/speech44m.wav"

	local A="Peertune Fixtures" L="Test Signals"
	encode "$tmp/sweep44s.wav" "$out/sweep-44k-stereo-cbr320.mp3" "Sweep CBR 320" "$A" "$L" -b 320 --cbr
	encode "$tmp/sweep44s.wav" "$out/sweep-44k-stereo-vbr.mp3" "Sweep VBR" "$A" "$L" -V 2
	encode "$tmp/speech44m.wav" "$out/speech-44k-mono-cbr128.mp3" "Speech CBR 128" "$A" "$L" -b 128 --cbr
	encode "$tmp/noise48s.wav" "$out/noise-48k-stereo-vbr.mp3" "Noise VBR" "$A" "$L" -V 2
	encode "$tmp/sweep48m.wav" "$out/sweep-48k-mono-cbr320.mp3" "Sweep 48k CBR 320" "$A" "$L" -b 320 --cbr
	encode "$tmp/sweep44s.wav" "$out/sweep-44k-stereo.flac" "Sweep FLAC" "$A" "$L" -5
	encode "$tmp/noise48s.wav" "$out/noise-48k-stereo.flac" "Noise FLAC" "$A" "$L" -8
	encode "$tmp/speech44m.wav" "$out/speech-44k-mono.flac" "Speech FLAC" "$A" "$L" -5
	encode "$tmp/sweep44s.wav" "$out/sweep-44k-stereo.ogg" "Sweep Vorbis" "$A" "$L" -q 6
	encode "$tmp/sweep48m.wav" "$out/sweep-48k-mono.ogg" "Sweep 48k Vorbis" "$A" "$L" -q 4
	encode "$tmp/speech44m.wav" "$out/speech-44k-mono.ogg" "Speech Vorbis" "$A" "$L" -q 3
	encode "$tmp/noise44m.wav" "$out/noise-44k-mono.wav" "" "" ""
	encode "$tmp/sweep48m.wav" "$out/sweep-48k-mono.wav" "" "" ""
	encode "$tmp/sweep44s.wav" "$out/sweep-44k-stereo.wav" "" "" ""
}

# A sample library: deterministic "songs" of chords and arpeggios.
make_library() {
	local n=$1 secs=$2
	local artists=("The Sine Waves" "Square Roots" "Harmonic Minors" "Delta Functions" "Low Pass")
	local albums=("First Light" "Overtones" "Night Signals" "Phase Space")
	local words=(Amber Blue Cedar Dawn Echo Fjord Glass Harbor Iris Juniper Kestrel Lumen Meadow North Orbit Pine Quartz River Stone Tide)
	local roots=(220 246.94 261.63 293.66 329.63 349.23 392 440)
	local exts=(mp3 flac ogg)
	local i
	for ((i = 0; i < n; i++)); do
		local artist=${artists[i % ${#artists[@]}]}
		local album="${albums[(i / ${#artists[@]}) % ${#albums[@]}]}"
		((i >= ${#artists[@]} * ${#albums[@]})) && album="$album Vol $((i / (${#artists[@]} * ${#albums[@]}) + 1))"
		local title="${words[i % ${#words[@]}]} ${words[(i * 7 + 3) % ${#words[@]}]} $((i + 1))"
		local ext=${exts[i % 3]}
		local dir="$out/$artist/$album"
		# A CBR mp3 carries its bitrate in its name: "a file that is
		# already there is kept" must not keep one of another bitrate.
		local suffix=""
		[[ $ext == mp3 && -n $bitrate ]] && suffix=" [${bitrate}k]"
		local dest
		dest=$(printf '%s/%02d - %s%s.%s' "$dir" $((i + 1)) "$title" "$suffix" "$ext")
		[[ -s "$dest" ]] && continue
		mkdir -p "$dir"
		local r=${roots[i % ${#roots[@]}]}
		local bpm=$((90 + (i * 13) % 60))
		# A chord (root, third, fifth) with a slow tremolo plus an arpeggio
		# stepping through the chord at the track's tempo.
		# A chord (root, major or minor third, fifth) with a slow tremolo plus
		# an arpeggio stepping through it at the track's tempo.
		local third=1.2599
		((i % 2)) && third=1.1892
		local s="mod(floor(t*$bpm/30),4)"
		local arp="$r*2*if(eq($s,0),1,if(eq($s,1),$third,if(eq($s,2),1.4983,2)))"
		local chord="(sin(2*PI*$r*t)+0.6*sin(2*PI*$r*$third*t)+0.5*sin(2*PI*$r*1.4983*t))"
		local env="(0.6+0.4*sin(2*PI*0.25*t))"
		local lead="0.25*sin(2*PI*$arp*t)*exp(-4*mod(t,30/$bpm))"
		local left="0.18*$chord*$env+$lead" right="0.18*$chord*(1.6-$env)+0.8*$lead"
		# Commas inside a filter's arguments are escaped for the filtergraph.
		local expr="$left|$right" esc='\,'
		pcm "lib" 44100 2 "$secs" "aevalsrc=${expr//,/$esc}:s=44100:d=$secs"
		case $ext in
		mp3)
			if [[ -n $bitrate ]]; then
				encode "$tmp/lib.wav" "$dest" "$title" "$artist" "$album" -b "$bitrate" --cbr
			else
				encode "$tmp/lib.wav" "$dest" "$title" "$artist" "$album" -V 4
			fi
			;;
		flac) encode "$tmp/lib.wav" "$dest" "$title" "$artist" "$album" -5 ;;
		ogg) encode "$tmp/lib.wav" "$dest" "$title" "$artist" "$album" -q 4 ;;
		esac
		rm -f "$tmp/lib.wav"
	done
}

if ((library > 0)); then
	make_library "$library" "$seconds"
else
	make_fixtures
fi
