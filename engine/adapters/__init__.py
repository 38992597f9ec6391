"""Provider payloads in, `Outcome` out: Infobip and NHN Cloud readers, shape detection, envelopes, provider
timestamps, and the JSON record reader.  Imports only ``model`` (and ``_errors``)."""
