// H.264 NAL unit helpers (ITU-T H.264 §7.3): types, Annex B splitting and the few SPS
// fields destinations need (size for containers, profile-level-id for SDP).

export const NAL_SLICE = 1;
export const NAL_IDR = 5;
export const NAL_SEI = 6;
export const NAL_SPS = 7;
export const NAL_PPS = 8;
export const NAL_AUD = 9;
export const NAL_FILLER = 12;

/** Profiles whose SPS carries chroma_format_idc and bit depths (H.264 §7.3.2.1.1). */
const CHROMA_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

export function nalType(nalu: Uint8Array): number {
  return nalu[0]! & 0x1f;
}

/** Splits an Annex B byte stream (00 00 01 / 00 00 00 01 start codes) into NAL units (views, no copy). */
export function splitAnnexB(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = -1;
  let i = 0;
  const n = buf.length;
  while (i + 2 < n) {
    if (buf[i] === 0 && buf[i + 1] === 0 && buf[i + 2] === 1) {
      if (start >= 0) {
        let end = i;
        while (end > start && buf[end - 1] === 0) end--; // trailing zero of a 4-byte start code
        out.push(buf.subarray(start, end));
      }
      i += 3;
      start = i;
    } else {
      i++;
    }
  }
  if (start >= 0 && start < n) out.push(buf.subarray(start));
  return out;
}

/** Removes emulation-prevention bytes (00 00 03 -> 00 00) to get the raw RBSP. */
export function unescapeRbsp(nalu: Uint8Array): Uint8Array {
  const out = new Uint8Array(nalu.length);
  let o = 0;
  let zeros = 0;
  for (let i = 0; i < nalu.length; i++) {
    const b = nalu[i]!;
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    zeros = b === 0 ? zeros + 1 : 0;
    out[o++] = b;
  }
  return out.subarray(0, o);
}

class BitReader {
  private pos = 0;
  constructor(private readonly data: Uint8Array) {}
  bit(): number {
    const byte = this.data[this.pos >> 3];
    if (byte === undefined) throw new RangeError('SPS ends early');
    const v = (byte >> (7 - (this.pos & 7))) & 1;
    this.pos++;
    return v;
  }
  bits(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 2 + this.bit();
    return v;
  }
  ue(): number {
    let zeros = 0;
    while (this.bit() === 0) {
      if (++zeros > 31) throw new RangeError('bad Exp-Golomb code in SPS');
    }
    return 2 ** zeros - 1 + this.bits(zeros);
  }
  se(): number {
    const k = this.ue();
    return k % 2 === 1 ? (k + 1) / 2 : -k / 2;
  }
}

export interface SpsInfo {
  profileIdc: number;
  /** constraint_set0..5 flags and reserved bits: the byte between profile and level. */
  constraintFlags: number;
  levelIdc: number;
  width: number;
  height: number;
  /** 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4 (1 for profiles that cannot signal it). */
  chromaFormatIdc: number;
  bitDepthLuma: number;
  bitDepthChroma: number;
}

/** Parses the fields of a sequence parameter set (NAL header included) that give size and profile. */
export function parseSps(sps: Uint8Array): SpsInfo {
  if (sps.length < 4 || nalType(sps) !== NAL_SPS) throw new RangeError('not an SPS NAL unit');
  const r = new BitReader(unescapeRbsp(sps.subarray(1)));
  const profileIdc = r.bits(8);
  const constraintFlags = r.bits(8);
  const levelIdc = r.bits(8);
  r.ue(); // seq_parameter_set_id
  let chromaFormatIdc = 1;
  let bitDepthLuma = 8;
  let bitDepthChroma = 8;
  if (CHROMA_PROFILES.has(profileIdc)) {
    chromaFormatIdc = r.ue();
    if (chromaFormatIdc === 3) r.bit(); // separate_colour_plane_flag
    bitDepthLuma = r.ue() + 8;
    bitDepthChroma = r.ue() + 8;
    r.bit(); // qpprime_y_zero_transform_bypass_flag
    if (r.bit()) {
      // seq_scaling_matrix_present_flag: skip the lists
      const lists = chromaFormatIdc !== 3 ? 8 : 12;
      for (let i = 0; i < lists; i++) {
        if (r.bit()) {
          const size = i < 6 ? 16 : 64;
          let last = 8;
          let next = 8;
          for (let j = 0; j < size; j++) {
            if (next !== 0) next = (last + r.se() + 256) % 256;
            last = next === 0 ? last : next;
          }
        }
      }
    }
  }
  r.ue(); // log2_max_frame_num_minus4
  const pocType = r.ue();
  if (pocType === 0) r.ue();
  else if (pocType === 1) {
    r.bit();
    r.se();
    r.se();
    const n = r.ue();
    for (let i = 0; i < n; i++) r.se();
  }
  r.ue(); // max_num_ref_frames
  r.bit(); // gaps_in_frame_num_value_allowed_flag
  const widthMbs = r.ue() + 1;
  const heightMapUnits = r.ue() + 1;
  const frameMbsOnly = r.bit();
  if (!frameMbsOnly) r.bit(); // mb_adaptive_frame_field_flag
  r.bit(); // direct_8x8_inference_flag
  let cropL = 0, cropR = 0, cropT = 0, cropB = 0;
  if (r.bit()) {
    cropL = r.ue();
    cropR = r.ue();
    cropT = r.ue();
    cropB = r.ue();
  }
  const subW = chromaFormatIdc === 1 || chromaFormatIdc === 2 ? 2 : 1;
  const subH = chromaFormatIdc === 1 ? 2 : 1;
  const cropUnitX = chromaFormatIdc === 0 ? 1 : subW;
  const cropUnitY = (chromaFormatIdc === 0 ? 1 : subH) * (2 - frameMbsOnly);
  return {
    profileIdc,
    constraintFlags,
    levelIdc,
    width: widthMbs * 16 - cropUnitX * (cropL + cropR),
    height: (2 - frameMbsOnly) * heightMapUnits * 16 - cropUnitY * (cropT + cropB),
    chromaFormatIdc,
    bitDepthLuma,
    bitDepthChroma,
  };
}
