#!/bin/sh
# Seeds for fuzz_ts, made with ffmpeg's lavfi sources into DIR:
#   seed.ts      1.2 s of H.264 + AAC, a keyframe every 6 frames
#   pmt-grows.ts 2 frames of that, then a PMT with a third stream (a second
#                AAC track): the demuxer adds it while Podium probes
#   big-frame.ts a 217 KB keyframe: more than the demuxer's 200 KiB PES
#                buffer, so it is demuxed in two pieces that Podium joins
#                (under the fuzz driver's 256 KiB input limit)
#   programs.ts  two programs, a PMT each: Podium relays the first
#   change.ts    0.6 s, then 0.6 s at another picture size and audio rate
#                with timestamps running on: a DISCONTINUITY (TS) or a new
#                init section (fMP4)
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
# shellcheck disable=SC2086
ff -f lavfi -i testsrc2=size=1280x720:rate=15 -f lavfi -i sine=sample_rate=48000 -frames:v 2 \
   -t 0.2 -vf noise=alls=12:allf=u -c:v libx264 -preset veryfast -crf 20 -g 6 -pix_fmt yuv420p \
   -c:a aac -b:a 32k -muxdelay 0 -f mpegts "$dir/big-frame.ts"
# shellcheck disable=SC2086
ff $src -f lavfi -i testsrc2=size=96x54:rate=15 -f lavfi -i sine=frequency=880:sample_rate=48000 \
   -t 0.6 -map 0 -map 1 -map 2 -map 3 $enc -program program_num=1:st=0:st=1 \
   -program program_num=2:st=2:st=3 -f mpegts "$dir/programs.ts"
# shellcheck disable=SC2086
ff $src -t 0.6 $enc -f mpegts "$dir/change-a.ts"
# shellcheck disable=SC2086
ff -f lavfi -i testsrc2=size=192x108:rate=15 -f lavfi -i sine=sample_rate=44100 -t 0.6 $enc \
   -ar 44100 -output_ts_offset 0.6 -f mpegts "$dir/change-b.ts"
cat "$dir/change-a.ts" "$dir/change-b.ts" > "$dir/change.ts"
rm -f "$dir/change-a.ts" "$dir/change-b.ts"
size=$(wc -c < "$dir/big-frame.ts")
pieces=$(ffprobe -v error -fflags noparse -select_streams v -show_entries packet=pos -of csv=p=0 \
         "$dir/big-frame.ts" 2>/dev/null | sort | uniq -d | wc -l)
if [ "$size" -gt 262144 ] || [ "$pieces" -lt 1 ]; then
    echo "big-frame.ts: $size bytes, $pieces frame(s) in pieces; wanted <= 262144 and >= 1" >&2
    exit 1
fi
