#!/usr/bin/python3
"""GStreamer's own RTSP server (gst-rtsp-server through python3-gi): an RTSP server that is not
ours, for LiveSource's client. Serves a live test pattern at /live; its RTCP sender reports carry
this process's wall clock (run it under libfaketime to give it a clock of its own). Prints
"clock <epoch ms>" (its wall clock) and "ready <port>" once listening.

usage: gst_rtsp_server.py PORT
"""
import sys
import time

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

LAUNCH = ('( videotestsrc is-live=true pattern=smpte ! video/x-raw,width=320,height=240,framerate=30/1 ! '
          'x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 ! '
          'rtph264pay name=pay0 pt=96 config-interval=-1 )')


def main():
    port = int(sys.argv[1])
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address('127.0.0.1')
    server.set_service(str(port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(LAUNCH)
    factory.set_shared(True)
    server.get_mount_points().add_factory('/live', factory)
    if server.attach(None) == 0:
        sys.exit('cannot listen on port %d' % port)
    print('clock %.3f' % (time.time() * 1000), flush=True)
    print('ready %d' % port, flush=True)
    GLib.MainLoop().run()


if __name__ == '__main__':
    main()
