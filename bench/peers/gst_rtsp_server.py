#!/usr/bin/python3
"""GStreamer's own RTSP server (gst-rtsp-server through python3-gi), the peer of RTSPSkyLine in
the latency and fan-out figures. Serves the benchmark's frames, each stamped with its index
(the same 16-block band as bench/lib/frames.ts), through the pipeline given on the command line,
paced at the frame rate. Prints "ready <port>" once listening and "P <index> <epoch ms>" just
before each push-buffer, the moment that corresponds to put() on the Node side.

usage: gst_rtsp_server.py PORT WIDTH HEIGHT FPS FRAMES_FILE DISTINCT 'LAUNCH'
"""
import sys
import threading
import time

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

INDEX_BITS = 16


def popcount(v):
    return bin(v).count('1')


def code(index):
    v = index & 0x3FFF
    lo = popcount(v & 0x7F) & 1
    hi = popcount(v >> 7) & 1
    return v | (lo << 14) | (hi << 15)


def stamp(frame, width, index):
    bs = width // INDEX_BITS
    c = code(index)
    for bit in range(INDEX_BITS):
        value = 235 if (c >> bit) & 1 else 16
        block = bytes([value]) * (bs * 3)
        for y in range(bs):
            start = (y * width + bit * bs) * 3
            frame[start:start + bs * 3] = block


def main():
    port, width, height, fps = (int(a) for a in sys.argv[1:5])
    frames_file, distinct, launch = sys.argv[5], int(sys.argv[6]), sys.argv[7]
    size = width * height * 3
    with open(frames_file, 'rb') as f:
        data = f.read()
    frames = [data[i * size:(i + 1) * size] for i in range(distinct)]

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address('127.0.0.1')
    server.set_service(str(port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch('( ' + launch + ' )')
    factory.set_shared(True)
    factory.set_latency(0)
    state = {'appsrc': None}

    def on_configure(_factory, media):
        # The media prepares (and answers DESCRIBE) once data reached the payloader, so frames
        # flow from here on; what queues while the first viewer connects drains within the
        # figure's settle time.
        state['appsrc'] = media.get_element().get_by_name('src')

    factory.connect('media-configure', on_configure)
    server.get_mount_points().add_factory('/live', factory)
    server.attach(None)
    print('ready %d' % port, flush=True)

    def pusher():
        period = 1.0 / fps
        t0 = time.monotonic()
        i = 0
        while True:
            appsrc = state['appsrc']
            if appsrc is not None:
                frame = bytearray(frames[i % distinct])
                stamp(frame, width, i)
                print('P %d %.3f' % (i, time.time() * 1000), flush=True)
                appsrc.emit('push-buffer', Gst.Buffer.new_wrapped(bytes(frame)))
            i += 1
            delay = t0 + i * period - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    threading.Thread(target=pusher, daemon=True).start()
    GLib.MainLoop().run()


if __name__ == '__main__':
    main()
