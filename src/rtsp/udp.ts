// The RTSP server's UDP pair for RTP and RTCP to viewers (RTP even, RTCP the next port).
import dgram from 'node:dgram';
import type { Logger } from 'pino';

export interface RtpPair {
  rtp: dgram.Socket;
  rtcp: dgram.Socket;
  ports: [number, number];
}

/** Binds an even port and the next one on `address`: `rtpPort` when given, else a free pair. */
export async function bindRtpPair(type: 'udp4' | 'udp6', address: string, rtpPort: number | undefined, log: Logger | undefined): Promise<RtpPair> {
  const bindOne = (port: number) =>
    new Promise<dgram.Socket>((resolve, reject) => {
      const s = dgram.createSocket({ type, reuseAddr: false });
      s.once('error', (err) => {
        s.close();
        reject(err);
      });
      s.bind(port, address, () => {
        s.removeAllListeners('error');
        s.on('error', (err) => log?.debug({ err: err.message }, 'UDP socket error'));
        resolve(s);
      });
    });
  const closeQuiet = (s: dgram.Socket) => new Promise<void>((r) => s.close(() => r()));
  for (let attempt = 0; attempt < 50; attempt++) {
    let rtp: dgram.Socket | undefined;
    try {
      rtp = await bindOne(rtpPort ?? 0);
      const p = rtp.address().port;
      if (p % 2 !== 0) {
        await closeQuiet(rtp);
        continue;
      }
      const rtcp = await bindOne(p + 1);
      return { rtp, rtcp, ports: [p, p + 1] };
    } catch (err) {
      if (rtp) await closeQuiet(rtp);
      if (rtpPort !== undefined) throw new Error(`RTSP server cannot bind UDP ${rtpPort}-${rtpPort + 1}: ${(err as Error).message}`);
    }
  }
  throw new Error('RTSP server found no free UDP port pair for RTP/RTCP');
}
