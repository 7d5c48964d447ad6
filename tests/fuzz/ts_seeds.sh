#!/bin/sh
# Seeds for fuzz_ts, made with ffmpeg's lavfi sources into DIR:
#   seed.ts      1.2 s of H.264 + AAC, a keyframe every 6 frames
#   pmt-grows.ts 2 frames of that, then a PMT with a third stream (a second
#                AAC track): the demuxer adds it while Podium probes
set -eu
dir=$1
ff() { ffmpeg -hide_banner -loglevel error -nostdin -y "$@"; }
src="-f lavfi -i testsrc2=size=160x90:rate=15 -f lavfi -i sine=sample_rate=48000"
enc="-c:v libx264 -preset ultrafast -g 6 -pix_fmt yuv420p -c:a aac -b:a 32k"
# shellcheck disable=SC2086
ff $src -t 1.2 $enc -f mpegts "$dir/seed.ts"
# shellcheck disable=SC2086
ff $src -frames:v 2 -t 0.14 $enc -f mpegts "$dir/pmt-a.ts"
# shellcheck disable=SC2086
ff $src -f lavfi -i sine=frequency=880:sample_rate=48000 -map 0 -map 1 -map 2 -t 1 $enc \
   -f mpegts "$dir/pmt-b.ts"
cat "$dir/pmt-a.ts" "$dir/pmt-b.ts" > "$dir/pmt-grows.ts"
rm -f "$dir/pmt-a.ts" "$dir/pmt-b.ts"
