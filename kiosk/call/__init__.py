"""The call engine: WebRTC (aiortc) peer connections fed by the HAL."""
