/** The RFC 6381 codec string browsers want (WebCodecs, MSE): avc1.PPCCLL from the SPS's profile, constraint flags and level. */
export function avcCodecString(sps: Uint8Array): string {
  if (sps.length < 4 || (sps[0]! & 0x1f) !== 7) throw new RangeError('a codec string needs an SPS NAL unit');
  const hex = (v: number) => v.toString(16).toUpperCase().padStart(2, '0');
  return `avc1.${hex(sps[1]!)}${hex(sps[2]!)}${hex(sps[3]!)}`;
}
