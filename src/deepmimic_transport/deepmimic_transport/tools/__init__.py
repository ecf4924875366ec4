"""Command-line tools over the DDS graph, as ``ros2 topic`` and ``ros2 bag`` do them.

- ``discovery.py``: what is on a domain (Cyclone's builtin topics): ROS topics with their types and
  publisher/subscriber counts, services from their ``rq/``/``rr/`` pairs, and the QoS a reader
  should use to hear a topic's publishers;
- ``echo.py``: ``topic echo`` (YAML like ``ros2 topic echo``) and ``topic hz`` (rate statistics);
- ``bag.py``: ``bag record`` into a rosbag2 MCAP bag (rosbags' writer; CDR bytes as rosbags
  serialises them, ``ros2msg`` schemas, ``metadata.yaml``).

The ``deepmimic topic`` and ``deepmimic bag`` commands are thin wrappers around these modules. All of
them work on ``ROS_DOMAIN_ID`` unless told otherwise and honour ``CYCLONEDDS_URI`` and
``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` as the DDS transport does.
"""
