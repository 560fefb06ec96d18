// Benchmark (prints figures, asserts nothing): API calls for one create+wait, and the lag between
// the pod becoming ready at the emulator and the provider returning.
// Usage: npm run bench -- [--boot-seconds 300] [--runtime-null-seconds 0]
import { podProvider } from "../runpod";
import { RunPodEmulator } from "../test/emulators/runpod";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const bootSeconds = arg("boot-seconds", 300);
  const runtimeNullSeconds = arg("runtime-null-seconds", 0);
  // Provisioning is the short part of a boot; the image pull and container start take the rest.
  const provisionMs = Math.round(bootSeconds * 1000 * 0.1);
  const startMs = bootSeconds * 1000 - provisionMs - runtimeNullSeconds * 1000;
  const emulator = await RunPodEmulator.start({
    timings: { provisionMs, startMs, runtimeNullMs: runtimeNullSeconds * 1000 },
  });
  process.env.RUNPOD_API_KEY = emulator.apiKey;
  process.env.RUNPOD_API_URL = emulator.baseUrl;
  process.env.RUNPOD_PROVIDER_QUIET ??= "1";
  const provider = { ...podProvider };
  try {
    const { inputs } = await provider.check!({}, {
      name: "bench-pod",
      image: "ghcr.io/example/comfyui-steadydancer:0.1.0",
      gpuTypeIds: ["NVIDIA L40S"],
      readyTimeoutSeconds: bootSeconds * 2 + 60,
    });
    const t0 = Date.now();
    const { id } = await provider.create(inputs ?? {});
    const returnedAt = Date.now();
    const pod = emulator.podById(id);
    // The emulator stamps startedAt when the container is reported, the moment the pod is ready.
    const readyAt = Date.parse(pod?.startedAt ?? "");
    const calls = emulator.calls.map((c) => `${c.method} ${c.path.replace(id, "{id}")}`);
    const byRoute = new Map<string, number>();
    for (const c of calls) byRoute.set(c, (byRoute.get(c) ?? 0) + 1);
    console.log(`boot: ${bootSeconds}s (provision ${provisionMs / 1000}s, start ${startMs / 1000}s, RUNNING-with-runtime-null ${runtimeNullSeconds}s)`);
    console.log(`create+wait took ${((returnedAt - t0) / 1000).toFixed(1)}s`);
    console.log(`API calls: ${calls.length} (goal <= 15)`);
    for (const [route, n] of byRoute) console.log(`  ${n} x ${route}`);
    console.log(`lag from ready to provider return: ${((returnedAt - readyAt) / 1000).toFixed(2)}s (goal <= 2s)`);
  } finally {
    await emulator.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
