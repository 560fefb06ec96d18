"""Videos too large to return inline go to an S3-compatible bucket (BUCKET_* env, the runpod SDK's names); the
job returns a presigned GET URL. boto3 directly, not the SDK's rp_upload: rp_upload silently writes to a local
folder when the bucket env is incomplete (a path nobody outside the worker can fetch), sets no Content-Type and
prints a progress bar; boto3 is in the image anyway as a requirement of the runpod SDK."""
from __future__ import annotations

import time

from .config import Bucket
from .errors import JobFailed

# A week: the longest a SigV4 presigned URL may live, and what rp_upload uses.
URL_LIFETIME_S = 7 * 24 * 3600


def upload_video(bucket: Bucket, key: str, data: bytes, mime_type: str) -> str:
    """Blocking (run it in a thread). Returns the presigned GET URL; raises JobFailed without the secret."""
    import boto3  # only a job with a large video needs it
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    name = bucket.name or time.strftime("%m-%y")
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=bucket.endpoint_url,
        aws_access_key_id=bucket.access_key_id,
        aws_secret_access_key=bucket.secret_access_key,
        config=Config(signature_version="s3v4", retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10, read_timeout=120),
    )
    try:
        client.put_object(Bucket=name, Key=key, Body=data, ContentType=mime_type)
        return client.generate_presigned_url("get_object", Params={"Bucket": name, "Key": key}, ExpiresIn=URL_LIFETIME_S)
    except (BotoCoreError, ClientError) as error:
        raise JobFailed(
            f"the video could not be uploaded to bucket {name} at {bucket.endpoint_url}: {error}. "
            "Check BUCKET_ENDPOINT_URL, BUCKET_NAME and the keys' write permission"
        ) from None
