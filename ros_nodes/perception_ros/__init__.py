"""rclpy layer of the perception node; all logic lives in ``perception.ros`` (ROS-free, tested)."""
