"""The serverless worker of the image: RunPod jobs in, ComfyUI prompts run, videos out (README: "Serverless worker")."""
