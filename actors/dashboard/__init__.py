"""The live web dashboard and Prometheus ``/metrics`` of a running deployment (``perpwire-dashboard``)."""
