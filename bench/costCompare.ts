// Prints what a pod and a serverless endpoint cost for the same SteadyDancer jobs (arithmetic only, asserts
// nothing, calls nothing). A pod bills every hour it is up; a serverless worker bills per second from its
// start (cold start: container and model load) through the job and the idle timeout after it (RunPod docs,
// serverless/pricing.mdx). Default prices: the RunPod emulator's catalog fixture for NVIDIA L40S
// (test/emulators/runpod.ts, price.secure 0.86 USD/h per GPU) and the v2 spec's only serverless figure, the
// example of GpuType.price.serverless (1.1 USD/h per GPU, runpod/docs api-reference-v2/openapi.json 081392fe).
// Usage: npm run bench:cost -- [--pod-per-hour 0.86] [--serverless-per-hour 1.1] [--job-minutes 10]
//        [--cold-start-minutes 3] [--idle-seconds 60] [--gpus 1] [--pod-hours 8] [--jobs 1,5,20,50]

const USAGE = `Usage: npm run bench:cost -- [options]
Prints the cost of jobs on a pod (billed per hour up) and on a serverless endpoint (billed per second).
  --pod-per-hour <usd>        pod list price per GPU per hour (default 0.86: emulator fixture, NVIDIA L40S SECURE)
  --serverless-per-hour <usd> serverless list price per GPU per hour (default 1.1: the v2 spec's example of
                              GpuType.price.serverless; flex workers, no active-worker discount)
  --job-minutes <n>           GPU time of one generation (default 10, an assumption)
  --cold-start-minutes <n>    billed start of a scaled-down worker: container start and model load (default 3, an assumption)
  --idle-seconds <n>          serverless.idleTimeoutSeconds, billed after the last job of a burst (default 60)
  --gpus <n>                  GPUs per pod or worker (default 1)
  --pod-hours <n>             hours a day the pod is up (default 8; 24 for a pod never stopped)
  --jobs <list>               jobs per day to compare, comma-separated (default 1,5,20,50)
  --help                      this text`;

interface Options {
  podPerHour: number;
  serverlessPerHour: number;
  jobMinutes: number;
  coldStartMinutes: number;
  idleSeconds: number;
  gpus: number;
  podHours: number;
  jobs: number[];
}

const DEFAULTS: Options = {
  podPerHour: 0.86,
  serverlessPerHour: 1.1,
  jobMinutes: 10,
  coldStartMinutes: 3,
  idleSeconds: 60,
  gpus: 1,
  podHours: 8,
  jobs: [1, 5, 20, 50],
};

const FLAGS: Record<string, Exclude<keyof Options, "jobs">> = {
  "--pod-per-hour": "podPerHour",
  "--serverless-per-hour": "serverlessPerHour",
  "--job-minutes": "jobMinutes",
  "--cold-start-minutes": "coldStartMinutes",
  "--idle-seconds": "idleSeconds",
  "--gpus": "gpus",
  "--pod-hours": "podHours",
};

function parseArgs(argv: string[]): Options {
  const options: Options = { ...DEFAULTS, jobs: [...DEFAULTS.jobs] };
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i] ?? "";
    const text = argv[i + 1];
    if (text === undefined) throw new Error(`${flag} needs a value`);
    if (flag === "--jobs") {
      options.jobs = text.split(",").map(Number);
      if (!options.jobs.every((n) => Number.isInteger(n) && n > 0)) throw new Error("--jobs takes whole numbers above 0, comma-separated");
      continue;
    }
    const key = FLAGS[flag];
    if (!key) throw new Error(`unknown option ${flag}`);
    const value = Number(text);
    if (!Number.isFinite(value) || value < 0) throw new Error(`${flag} must be a number of 0 or more`);
    options[key] = value;
  }
  if (options.podHours > 24) throw new Error("--pod-hours is at most 24");
  return options;
}

const usd = (n: number) => `$${n < 1 ? n.toPrecision(2) : n.toFixed(2)}`;

function report(o: Options): string[] {
  const perSecond = (o.serverlessPerHour * o.gpus) / 3600;
  const jobSeconds = o.jobMinutes * 60;
  const coldJob = perSecond * (o.coldStartMinutes * 60 + jobSeconds + o.idleSeconds);
  const warmJob = perSecond * jobSeconds;
  const podDay = o.podPerHour * o.gpus * o.podHours;
  const podJobsPerDay = Math.floor((o.podHours * 60) / o.jobMinutes);
  const lines = [
    `pod: ${usd(o.podPerHour * o.gpus)}/h (${o.gpus} GPU) = ${usd(podDay)} a day up ${o.podHours} h, busy or idle; ` +
      `at most ${podJobsPerDay} jobs of ${o.jobMinutes} min in that time, ${usd(podDay / Math.max(podJobsPerDay, 1))} a job when busy all day`,
    `serverless: ${usd(o.serverlessPerHour * o.gpus)}/h = ${usd(perSecond * 60)}/min per worker; a job on a cold worker ` +
      `(${o.coldStartMinutes} min start + ${o.jobMinutes} min + ${o.idleSeconds} s idle) ${usd(coldJob)}, a job queued behind another on a warm worker ${usd(warmJob)}`,
    "jobs/day  pod/day  serverless/day (every job cold)",
  ];
  for (const n of o.jobs) {
    const fits = n <= podJobsPerDay ? "" : `  (a pod up ${o.podHours} h fits only ${podJobsPerDay})`;
    lines.push(`${String(n).padStart(8)}  ${usd(podDay).padStart(7)}  ${usd(n * coldJob).padStart(14)}${fits}`);
  }
  const breakEven = podDay / coldJob;
  lines.push(`break-even: ${breakEven.toFixed(1)} cold jobs a day cost as much as the pod up ${o.podHours} h`);
  return lines;
}

function main(): void {
  const argv = process.argv.slice(2);
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    return;
  }
  let options: Options;
  try {
    options = parseArgs(argv);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  for (const line of report(options)) console.log(line);
}

if (require.main === module) main();
