// GET /system_stats per build. "0.3.64" answers what the real server answered on the H200 (the capture).
import { capturedResponse } from "./capture";
import type { EmulatedDevice, Json, ResolvedOptions } from "./options";

const GB = 1e9;
const L40S: EmulatedDevice = {
  name: "cuda:0 NVIDIA L40S : cudaMallocAsync", type: "cuda", index: 0,
  vram_total: 47_697_362_944, vram_free: 47_171_108_864, torch_vram_total: 0, torch_vram_free: 0,
};
const A4000: EmulatedDevice = {
  name: "cuda:0 NVIDIA RTX A4000 : cudaMallocAsync", type: "cuda", index: 0,
  vram_total: 17_171_480_576, vram_free: 16_866_344_960, torch_vram_total: 0, torch_vram_free: 0,
};

export function systemStats(options: Pick<ResolvedOptions, "build" | "mode" | "devices">): Json {
  if (options.build === "0.3.64") {
    const captured = structuredClone(capturedResponse("system_stats").json) as Json;
    if (options.devices) captured.devices = options.devices;
    else if (options.mode === "lowVram") captured.devices = [A4000];
    return captured;
  }
  const devices = options.devices ?? [options.mode === "lowVram" ? A4000 : L40S];
  const python = "3.11.10 (main, Sep  7 2024, 18:35:41) [GCC 11.4.0]";
  const argv = ["main.py", "--listen", "0.0.0.0", "--port", "8188"];
  if (options.build === "2024") {
    return {
      system: { os: "posix", ram_total: 270 * GB, ram_free: 250 * GB, comfyui_version: "unknown", python_version: python, pytorch_version: "2.5.1+cu124", embedded_python: false, argv },
      devices: devices.slice(0, 1),
    };
  }
  return {
    system: {
      os: "linux", ram_total: 270 * GB, ram_free: 250 * GB, comfyui_version: "0.3.76",
      required_frontend_version: "1.32.10", installed_templates_version: "0.7.25", required_templates_version: "0.7.25",
      comfy_package_versions: {}, python_version: python, pytorch_version: "2.5.1+cu124", embedded_python: false,
      deploy_environment: "local-git", argv,
    },
    devices,
  };
}
