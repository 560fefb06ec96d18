// GPU families the image cannot run. Its PyTorch (2.5.1+cu124, pinned in docker/requirements/lock.txt) ships
// kernels for compute capabilities up to sm_90: a Blackwell GPU (10.x, 12.x) passes torch.cuda.init() and then
// fails at the first kernel ("no kernel image is available for execution on the device"). start.sh refuses
// such a GPU at start; the config refuses it before a pod is paid for.

interface UnsupportedFamily {
  /** Matches RunPod GPU type ids (nvidia-smi names) of the family. */
  pattern: RegExp;
  family: string;
  computeCapability: string;
}

const UNSUPPORTED: readonly UnsupportedFamily[] = [
  { pattern: /\bRTX (PRO )?\d{4}\b.*\bBlackwell\b|\bBlackwell\b/i, family: "Blackwell (RTX PRO Blackwell)", computeCapability: "12.0" },
  { pattern: /\bGeForce RTX 50\d0\b/i, family: "Blackwell (GeForce RTX 50 series)", computeCapability: "12.0" },
  { pattern: /\bG?B[123]00\b/i, family: "Blackwell (B100/B200/B300)", computeCapability: "10.x" },
];

/** Families the image is built and tested for (mmcv's TORCH_CUDA_ARCH_LIST 8.0;8.6;8.9;9.0, flash-attn 2). */
export const SUPPORTED_GPU_FAMILIES = "Ampere (compute capability 8.0/8.6), Ada Lovelace (8.9) or Hopper (9.0)";

/** Why the image cannot run on this GPU type, or undefined when nothing is known against it. */
export function unsupportedGpuReason(gpuTypeId: string): string | undefined {
  const hit = UNSUPPORTED.find((f) => f.pattern.test(gpuTypeId));
  if (!hit) return undefined;
  return (
    `is a ${hit.family} GPU (compute capability ${hit.computeCapability}): the image's PyTorch 2.5.1+cu124 has kernels ` +
    `up to sm_90 only, so CUDA initialises and the first kernel fails. Use ${SUPPORTED_GPU_FAMILIES} GPUs, ` +
    `e.g. "NVIDIA L40S", "NVIDIA A100 80GB PCIe", "NVIDIA H100 80GB HBM3"`
  );
}
