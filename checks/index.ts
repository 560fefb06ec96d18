// The public face of checks/: what components and tests may import.
export * from "./result";
